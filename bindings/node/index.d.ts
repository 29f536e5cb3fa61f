/** The full path of the sqlml loadable extension inside this package. */
export function getLoadablePath(): string;
/** Loads sqlml into db, a better-sqlite3 Database. */
export function load(db: { loadExtension(path: string): unknown }): void;
