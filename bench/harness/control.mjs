// Words of the control SharedArrayBuffer shared by the harness and its case threads.
export const GO = 0; // round number; the harness bumps it to start a round
export const READY = 1; // threads that have prepared and are waiting
export const DONE = 2; // threads that finished the current round
export const OPS = 3; // operations per thread in the current round
export const STOP_ROUND = -1;
export const CONTROL_BYTES = 16;
