// navigator.userAgent as workerd has it, on every tier. Libraries tell which runtime they are on by
// it: Hono's getRuntimeKey answers "workerd" only for this string, and hono/adapter's env(c) read
// no variable at all on anything it did not know.
export const WORKERS_USER_AGENT = 'Cloudflare-Workers';
