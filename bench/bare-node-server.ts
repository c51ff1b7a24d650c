// The baseline: the least a Node server can do to answer a workload (hello, or json-2k).
import http from 'node:http';
import { listing } from '../fixtures/json-2k/payload.ts';

const port = Number(process.argv[2] ?? 0);
const workload = process.argv[3] ?? 'hello';
http
  .createServer((_req, res) => {
    if (workload === 'json-2k') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(listing()));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' });
    res.end('Hello World!');
  })
  .listen(port, '127.0.0.1', () => console.log('ready'));
