// The baseline: the least a Node server can do to answer hello.
import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
http
  .createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' });
    res.end('Hello World!');
  })
  .listen(port, '127.0.0.1', () => console.log('ready'));
