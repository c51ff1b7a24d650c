// A service binding as tenant code sees it (env.AUTH): a Fetcher whose fetch() sends the request
// to the function the operator bound, through the host, as Workers' service bindings do. The
// request is built and checked as fetch() builds it; the host routes it (engine/bindings/).
import { fetchThrough } from '../host/outbound-fetch.ts';

export class Fetcher {
  readonly #binding: string;

  constructor(binding: string) {
    this.#binding = binding;
  }

  fetch(input: unknown, init?: unknown): Promise<unknown> {
    return fetchThrough(this.#binding, input, init);
  }

  get [Symbol.toStringTag](): string {
    return 'Fetcher';
  }
}
