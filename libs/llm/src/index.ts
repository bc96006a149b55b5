export * from './openai-gateway';
export * from './model-errors';
