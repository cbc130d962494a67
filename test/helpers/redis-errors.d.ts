// ioredis's types import this untyped package; declaring it keeps skipLibCheck off.
declare module 'redis-errors';
