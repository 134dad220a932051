export async function reportBenchToConsole(_o: unknown): Promise<void> {}
