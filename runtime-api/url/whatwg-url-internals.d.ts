// whatwg-url's parser modules, which islet reaches into to add its fast paths.
// The URL parser (fast-parse.ts).
declare module 'whatwg-url/lib/url-state-machine.js' {
  const usm: import('./fast-parse.ts').StateMachineModule;
  export default usm;
}

// Its urlencoded parser, given a fast path too (fast-urlencoded.ts).
declare module 'whatwg-url/lib/urlencoded.js' {
  const urlencoded: import('./fast-urlencoded.ts').UrlencodedModule;
  export default urlencoded;
}
