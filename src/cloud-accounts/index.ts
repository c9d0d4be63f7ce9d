export * from './types';
export * from './model';
export * from './store';
export * from './resolver';
export * from './verify';
