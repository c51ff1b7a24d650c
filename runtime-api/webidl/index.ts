export * from './conversions.ts';
export * from './interface.ts';
