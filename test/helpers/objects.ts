import { API_VERSION, type Image, type VM } from '../../src/api/index.js';

/** A minimal VM object, as a manifest with only a name and an image would decode. */
export function vm(name: string, image = 'docker.io/library/busybox:latest'): VM {
  return {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name },
    spec: { image: { ociClaim: { ref: image } } },
  };
}

export function image(ref: string): Image {
  return {
    apiVersion: API_VERSION,
    kind: 'Image',
    metadata: { name: ref },
    spec: { ociClaim: { ref } },
  };
}
