export { DatabaseIndex } from "./durable/database-index.ts";

export default {
  async fetch(): Promise<Response> {
    return new Response("ltx-edge");
  },
} satisfies ExportedHandler;
