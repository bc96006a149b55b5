export * from './openai-gateway';
