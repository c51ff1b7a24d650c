export { createOutboundFetch, EgressError, ResponseBytes, type EgressOptions, type OutboundFetch, type OutboundRequest, type OutboundResponse } from './outbound-fetch.ts';
export { createOutboundSocket, type ConnectOutboundSocket, type OutboundSocket, type OutboundSocketResult } from './outbound-websocket.ts';
