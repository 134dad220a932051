import type { DriverCtx } from './driver-ctx.js';
export interface KillParams { kills: number }
export async function killFuzz(_p: KillParams, _ctx: DriverCtx): Promise<unknown> { return {}; }
