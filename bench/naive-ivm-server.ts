// A reference point, not islet: the most direct isolated-vm server (one isolate, one async
// call per request, no batching, no limits). Shows what islet's batching buys and costs.
import http from 'node:http';
import ivm from 'isolated-vm';

const port = Number(process.argv[2] ?? 0);
const isolate = new ivm.Isolate({ memoryLimit: 128 });
const context = await isolate.createContext();
const handler = await context.eval(
  `(async function (method, url, headers) { return [200, 'text/plain;charset=UTF-8', 'Hello World!']; })`,
  { reference: true },
);

http
  .createServer(async (req, res) => {
    const [status, type, body] = (await handler.apply(undefined, [req.method, req.url, req.rawHeaders], {
      arguments: { copy: true },
      result: { copy: true, promise: true },
    })) as [number, string, string];
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  })
  .listen(port, '127.0.0.1', () => console.log('ready'));
