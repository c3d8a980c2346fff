/** The line the demo's reader prints on stdout once it can see every frame, before its JSON report. */
export const READY_LINE = 'ready';
