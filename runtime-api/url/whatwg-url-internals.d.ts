// whatwg-url's parser module, which islet reaches into to add its fast path (fast-parse.ts).
declare module 'whatwg-url/lib/url-state-machine.js' {
  const usm: import('./fast-parse.ts').StateMachineModule;
  export default usm;
}
