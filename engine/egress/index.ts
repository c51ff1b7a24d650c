export { createOutboundFetch, EgressError, ResponseBytes, type EgressOptions, type OutboundFetch, type OutboundRequest, type OutboundResponse } from './outbound-fetch.ts';
