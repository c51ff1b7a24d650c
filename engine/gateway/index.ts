export { createGateway, functionFromHost, type GatewayOptions } from './app.ts';
export { islet, type IsletMiddlewareOptions } from './middleware.ts';
export { serveGateway, type ServedGateway } from './server.ts';
