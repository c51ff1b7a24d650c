export { createSnapshot, runtimeSnapshot, type Snapshot } from './runtime-snapshot.ts';
