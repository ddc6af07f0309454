export { createServer, type ServerConfig, type GuanxiServer, type GraphiQLPreset } from './server';
export { schema } from './schema';
export { batchedSink } from './request-log';
