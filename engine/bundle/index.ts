export { runtimeScript } from './runtime-bundle.ts';
export { bundleEntry, bundleSource, MODULE_LOADED_EXPORT, type BundleFormat, type BundleOptions, type TenantBundle } from './tenant-bundle.ts';
export { stackMapper } from './source-map.ts';
