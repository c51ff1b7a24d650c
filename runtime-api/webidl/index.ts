export * from './conversions.ts';
export * from './interface.ts';
export * from './null-prototype.ts';
