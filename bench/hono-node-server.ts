// Hono on Node (@hono/node-server): the same workloads as the bare server, through the framework
// islet's gateway is built on, for bench/peers.ts.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { listing } from '../fixtures/json-2k/payload.ts';

const port = Number(process.argv[2] ?? 0);
const workload = process.argv[3] ?? 'hello';
const app = new Hono();
app.all('*', (c) => (workload === 'json-2k' ? c.json(listing()) : c.text('Hello World!')));
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => console.log('ready'));
