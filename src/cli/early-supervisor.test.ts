import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { processSignals } from '../system/program-io.js';
import { CliContext } from './context.js';
import { earlyStartOf, GLOBAL_VALUE_FLAGS } from './early-supervisor.js';
import { buildProgram } from './program.js';

test("the global flags read before the CLI loads are the program's flags that take a value", () => {
  const io = {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: {},
    signals: processSignals(process),
  };
  const program = buildProgram(new CliContext(io));
  const taking = program.options
    .filter((o) => o.required || o.optional)
    .flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
  assert.deepEqual([...taking].sort(), [...GLOBAL_VALUE_FLAGS].sort());
});

test('a supervisor is started early for a local run or start, and for nothing else', () => {
  const cases: [string[], NodeJS.ProcessEnv, ReturnType<typeof earlyStartOf>][] = [
    [['run', 'busybox'], {}, {}],
    [['--log-level', 'warn', 'run', 'busybox', '--name', 'start'], {}, { logLevel: 'warn' }],
    [['--data-dir=/d', 'vm', 'start', 'web'], {}, { dataDir: '/d' }],
    [['-q', 'vms', 'run', 'img', '--data-dir', '/e'], {}, { dataDir: '/e' }],
    [['start', 'web', '--log-level=silent'], {}, { logLevel: 'silent' }],
    // Other commands, even with run or start among their words.
    [['ps'], {}, undefined],
    [['rm', 'run'], {}, undefined],
    [['--data-dir', 'run', 'ps'], {}, undefined],
    [['exec', 'web', 'start'], {}, undefined],
    [['vm', 'stop', 'start'], {}, undefined],
    // Help, another host's daemon or store, a level the CLI will refuse, a flag without a value.
    [['run', '--help'], {}, undefined],
    [['-h', 'run'], {}, undefined],
    [['-H', 'tcp://h:1', 'run', 'img'], {}, undefined],
    [['run', 'img', '--host=unix:///s'], {}, undefined],
    [['--store', 'etcd://e:2379', 'run', 'img'], {}, undefined],
    [['run', 'img'], { IGNITE_HOST: 'tcp://h:1' }, undefined],
    [['run', 'img'], { IGNITE_STORE: 'etcd://e:2379' }, undefined],
    [['run', 'img'], { IGNITE_HOST: '' }, {}],
    [['--log-level', 'loud', 'run', 'img'], {}, undefined],
    [['run', 'img', '--data-dir'], {}, undefined],
    [['--', 'run'], {}, undefined],
  ];
  for (const [argv, env, want] of cases)
    assert.deepEqual(earlyStartOf(argv, env), want, argv.join(' '));
});
