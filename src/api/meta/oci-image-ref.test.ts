import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarImageRef, normalizeImageRef, parseImageRef } from './oci-image-ref.js';

const D = 'sha256:' + 'a'.repeat(64);

test('normalizeImageRef normalizes as Docker does', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['library/busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['weaveworks/ignite-ubuntu', 'docker.io/weaveworks/ignite-ubuntu:latest'],
    ['index.docker.io/library/alpine:3', 'docker.io/library/alpine:3'],
    ['127.0.0.1:5000/x/y:tag', '127.0.0.1:5000/x/y:tag'],
    ['localhost/foo', 'localhost/foo:latest'],
    ['localhost:5000/foo', 'localhost:5000/foo:latest'],
    ['quay.io/a/b/c', 'quay.io/a/b/c:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox@${D}`], // Docker keeps only the digest
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeImageRef(input), want, input);
});

test('parseImageRef splits domain, path, tag and digest', () => {
  assert.deepEqual(parseImageRef('127.0.0.1:5000/x/y:tag'), {
    domain: '127.0.0.1:5000',
    path: 'x/y',
    tag: 'tag',
  });
  assert.deepEqual(parseImageRef(`x@${D}`), { domain: 'docker.io', path: 'library/x', digest: D });
});

test('parseImageRef rejects malformed references', () => {
  for (const bad of [
    '',
    'busybox/UPPER',
    'a//b',
    'busybox:',
    'busybox@sha256:abc',
    'a/../b',
    '-x',
    'x:tag with space',
    'a b',
  ]) {
    assert.throws(() => parseImageRef(bad), RangeError, bad);
  }
});

test('familiarImageRef gives the short form', () => {
  assert.equal(familiarImageRef('docker.io/library/busybox:latest'), 'busybox:latest');
  assert.equal(familiarImageRef('docker.io/weaveworks/x:1'), 'weaveworks/x:1');
  assert.equal(familiarImageRef('127.0.0.1:5000/x:1'), '127.0.0.1:5000/x:1');
});
