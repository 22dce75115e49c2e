/**
 * @module
 * Restore-plan errors with stable codes.
 */
import { CodedError } from "../errors.ts";
export type PlanErrorCode = "PLAN_NO_FILES" | "PLAN_GAP" | "PLAN_TXID_NOT_AVAILABLE" | "PLAN_TIME_NOT_AVAILABLE" | "PLAN_INCONSISTENT";

export class PlanError extends CodedError<PlanErrorCode> {}
