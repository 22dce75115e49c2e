import { DurableObject } from "cloudflare:workers";

export class DatabaseIndex extends DurableObject {
  async ping(): Promise<string> {
    return "pong";
  }
}
