/** What a scenario running in the driver worker gets (test/workers/stress-driver.ts). */
export interface DriverCtx {
  ctlSab: SharedArrayBuffer;
  ctl: Int32Array;
  /** A line for the test output (kept by the supervisor). */
  log(text: string): void;
  /** Progress (the supervisor's hang watchdog). */
  beat(): void;
  /** The driver's own phase (PH code). */
  phase(code: number): void;
  /** Fail the whole run now (from an event handler, a protocol error): the supervisor rejects. */
  fail(message: string): void;
}
