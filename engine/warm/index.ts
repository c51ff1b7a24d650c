export { createSnapshot, runtimeSnapshot, type Snapshot } from './runtime-snapshot.ts';
export { TemplatePool, type Template, type TemplatePoolOptions } from './template-pool.ts';
