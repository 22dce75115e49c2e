/**
 * @module
 * The package's Node entry (`import … from "ltx-edge"`): open a replica
 * (directory, file:// or s3://), plan and restore it — streaming into a file
 * that is published only once every planned file verified — or run the CLI.
 *
 * @example
 * ```ts
 * import { openReplica, restoreToFile } from "ltx-edge";
 * const replica = openReplica("s3://bucket/app.db", { layout: "auto", s3: { region: "auto", endpoint, accessKeyId, secretAccessKey } });
 * const r = await restoreToFile(replica, "app.db", { target: { kind: "txid", txid: 42 } });
 * ```
 */
export { LATEST, type PlanTarget } from "../plan/plan.ts";
export { DirStore } from "../replica/dir.ts";
export { type LayoutOption, type LtxFileInfo, Replica, type ReplicaOptions as ReplicaLayoutOptions } from "../replica/replica.ts";
export { type S3Config, S3Store } from "../replica/s3.ts";
export type { ObjectStore, RangeResult, StoredObject } from "../replica/types.ts";
export {
  type PageSink,
  RESTORE_RANGE_BYTES,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreResult,
  resolvePlan,
  restore,
  restoreToBytes,
} from "../restore/restore.ts";
export { type TxidRange, restorableTxids, txidRanges } from "../restore/restorable.ts";
export { main } from "./main.ts";
export { type ReplicaOptions, type S3Options, openReplica } from "./replica-url.ts";
export { type RestoreToFileOptions, checkOutput, restoreToFile } from "./restore-file.ts";
