// The admin API under /_islet/: deploy, update, remove and list functions. Bearer token only;
// without a configured token the API stays shut rather than open.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Engine, FunctionConfig } from '../engine.ts';
import { BundleError, ConfigError, DeploySupersededError } from '../errors.ts';
import { ndjsonStream } from '../observe/index.ts';

/** Largest deploy request accepted (code + env + limits as JSON). */
const MAX_DEPLOY_BYTES = 32 * 1024 * 1024;

/** A deploy (its config) or a removal (undefined) made through the admin API. */
export type AdminWrite = (name: string, config: FunctionConfig | undefined) => void;

export function adminApi(engine: Engine, token: string | undefined, onWrite?: AdminWrite): Hono {
  const api = new Hono();

  api.use('*', async (c, next) => {
    if (!token) return problem(c, 401, 'unauthorized', 'the admin API is disabled: start islet with --admin-token or ISLET_ADMIN_TOKEN');
    if (!tokenMatches(c.req.header('authorization'), token)) {
      c.header('www-authenticate', 'Bearer realm="islet"');
      return problem(c, 401, 'unauthorized', 'a valid "Authorization: Bearer <token>" header is required');
    }
    return next();
  });

  api.get('/functions', (c) => c.json({ functions: engine.list() }));

  api.get('/status', (c) => c.json(engine.status()));
  api.get('/metrics', async (c) => c.body(await engine.metrics.text(), 200, { 'content-type': engine.metrics.contentType }));
  api.get('/functions/:name/logs', (c) => {
    const name = c.req.param('name');
    if (!engine.has(name)) return problem(c, 404, 'no_such_function', `no function named "${name}"`);
    const stream = ndjsonStream(engine.logs, name);
    return c.body(stream, 200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  });

  api.get('/functions/:name', (c) => {
    const info = engine.get(c.req.param('name'));
    return info ? c.json(info) : problem(c, 404, 'no_such_function', `no function named "${c.req.param('name')}"`);
  });

  // Counts the bytes as they arrive: a chunked body declares no length to check up front.
  const deployLimit = bodyLimit({
    maxSize: MAX_DEPLOY_BYTES,
    onError: (c) => problem(c, 413, 'body_too_large', `deploy requests are limited to ${MAX_DEPLOY_BYTES} bytes`),
  });

  api.put('/functions/:name', deployLimit, async (c) => {
    const name = c.req.param('name');
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return problem(c, 400, 'bad_request', 'the body must be JSON: {"code": "...", "limits": {...}, "env": {...}}');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return problem(c, 400, 'bad_request', 'the body must be a JSON object');
    }
    const { code, limits, env, egress, crons, ai, services, tier, needs, ...rest } = body as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length) return problem(c, 400, 'bad_request', `unknown field(s): ${unknownKeys.join(', ')}`);
    if (typeof code !== 'string') return problem(c, 400, 'bad_request', '"code" (the module source, a string) is required');
    const config: FunctionConfig = {
      code,
      limits: limits as Record<string, number> | undefined,
      env: env as Record<string, unknown> | undefined,
      egress: egress as Record<string, unknown> | undefined,
      crons: crons as string[] | undefined,
      ai: ai as Record<string, unknown> | undefined,
      services: services as Record<string, string> | undefined,
      tier: tier as FunctionConfig['tier'],
      needs: needs as FunctionConfig['needs'],
    };
    try {
      const result = await engine.deploy(name, config);
      // Installed in the engine in the turn that resolved deploy(): no other write came between.
      onWrite?.(name, config);
      const { inputs: _inputs, bundle: _bundle, created, ...info } = result;
      return c.json({ ...info, created }, created ? 201 : 200);
    } catch (err) {
      if (err instanceof BundleError) {
        return c.json({ error: 'bad_code', message: err.message.split('\n')[0], diagnostics: err.diagnostics }, 400);
      }
      if (err instanceof DeploySupersededError) return problem(c, 409, 'conflict', err.message);
      if (err instanceof ConfigError) return problem(c, 400, 'bad_request', err.message);
      throw err;
    }
  });

  api.delete('/functions/:name', async (c) => {
    const name = c.req.param('name');
    const existed = engine.has(name);
    // undeploy() takes the function out at once (new requests get 404), then waits for its
    // requests in flight. The removal is reported now, before a deploy of the same name made
    // meanwhile, and answered now: waiting for the requests held the operator up to a wallMs.
    const removing = engine.undeploy(name);
    if (!existed) return problem(c, 404, 'no_such_function', `no function named "${name}"`);
    onWrite?.(name, undefined);
    removing.catch((err: unknown) => engine.logger.error({ fn: name, err }, 'retiring a removed function failed'));
    return c.body(null, 204);
  });

  // Mounted in the gateway, an unmatched admin path would otherwise go on to tenant routing.
  api.all('*', (c) => problem(c, 404, 'not_found', `no admin route ${c.req.method} ${c.req.path}`));
  return api;
}

/**
 * Compared as SHA-256 digests, which are always the same length: comparing the tokens themselves
 * had to return early on a length mismatch, which told a guesser the token's length by timing.
 */
function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  return timingSafeEqual(sha256(match[1]!.trim()), sha256(token));
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

function problem(c: Context, status: 400 | 401 | 404 | 409 | 413, error: string, message: string): Response {
  return c.json({ error, message }, status);
}
