export { createGateway, functionForTarget, functionFromHost, functionFromHostHeader, isAdminTarget, routerPath, type GatewayOptions } from './app.ts';
export { islet, type IsletMiddlewareOptions } from './middleware.ts';
export { listenError, refuseConnect, refuseUnparsable, serveGateway, type ListenOptions, type ServedGateway } from './server.ts';
export { isletWebSocketServer } from './websocket.ts';
