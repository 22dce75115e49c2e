/** Values the Node global setup hands to tests via `inject()`. */
declare module "vitest" {
  export interface ProvidedContext {
    hello: string;
  }
}
export {};
