/**
 * @module
 * Restore-plan errors with stable codes.
 */
export type PlanErrorCode = "PLAN_NO_FILES" | "PLAN_GAP" | "PLAN_TXID_NOT_AVAILABLE" | "PLAN_TIME_NOT_AVAILABLE" | "PLAN_INCONSISTENT";

export class PlanError extends Error {
  readonly code: PlanErrorCode;
  constructor(code: PlanErrorCode, message: string) {
    super(message);
    this.name = "PlanError";
    this.code = code;
  }
}
