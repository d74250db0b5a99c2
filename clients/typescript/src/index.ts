// The salescoach API client: openapi-fetch over the types openapi-typescript generates from
// docs/openapi.json, so a renamed field or route fails `npm run typecheck`, not a user's page.
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema";

export type { components, operations, paths };
export type Problem = components["schemas"]["Problem"];
export type SalescoachClient = Client<paths>;

export interface ClientOptions {
  /** Where the API is served, e.g. `https://coach-api.example.com`. */
  baseUrl: string;
  /** An API key (`sc_live_…`) or an OIDC access token, sent as `Authorization: Bearer`. */
  token?: string;
  fetch?: typeof globalThis.fetch;
}

export function createSalescoachClient(options: ClientOptions): SalescoachClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  if (options.token !== undefined) {
    const bearer: Middleware = {
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${options.token}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}

/** A key for `Idempotency-Key`: send the same one when retrying the same POST. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** True for an RFC 9457 body of this API (every 4xx and 5xx has one). */
export function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && "code" in body && "status" in body;
}
