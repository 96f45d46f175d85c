/** Types for scripts/pack-digits.mjs (used by the tests). */
export declare const MAGIC: string;
export declare const THRESHOLD: number;
export declare const DEFAULT_OUT: string;
export declare function digitsDir(): string;
export declare function packDigits(dir?: string): Uint8Array;
