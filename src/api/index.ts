export * from './meta/size.js';
export * from './meta/oci-image-ref.js';
export * from './meta/uid.js';
export * from './meta/order.js';
export * from './meta/schema.js';
export * from './v1alpha1/types.js';
export * from './v1alpha1/defaults.js';
export * from './scheme.js';
