/** Every workflow the worker registers (its workflowsPath points here). */
export * from './system';
export * from './vm';
export * from './backup';
export * from './dr-monitor';
