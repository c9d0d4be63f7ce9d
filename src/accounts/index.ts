export * from './member-data';
export * from './model';
export * from './passwords';
export * from './rules';
export * from './service';
export * from './sessions';
