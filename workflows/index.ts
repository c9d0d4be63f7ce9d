/** Every workflow the worker registers (its workflowsPath points here). */
export * from './system';
export * from './vm';
export * from './backup';
export * from './dr';
export * from './drill';
export * from './alerts';
export * from './dr-monitor';
export * from './owner';
export * from './environment';
export * from './environment-backup';
export * from './environment-dr';
