/** Values the Node global setup hands to tests via `inject()`. */
declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL serving test/fixtures. */
    fixturesUrl: string;
    /** Every file under test/fixtures, relative, with `/` separators. */
    fixtureFiles: string[];
    /** A running s3rver with an empty bucket. */
    s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region: string };
  }
}
export {};
