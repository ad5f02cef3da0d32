/*
 * The options-object check now lives in validate.ts with the package's other argument
 * checks; this re-export keeps older import paths within the package working.
 */
export { checkOptionsObject } from './validate.js';
