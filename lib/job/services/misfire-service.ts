import type { JobContext } from '../job-context';

/**
 * `sharding/{n}/misfire`: a fire found the item still running (here or elsewhere). The
 * owner that missed the fire records it and runs the item once right after the current run ends; several
 * missed fires coalesce into that one run. The node mirrors the owner's decision for operators; it is
 * persistent so that it survives the owner's restart (the next owner clears it with its run).
 */
export class MisfireService {
  constructor(private readonly ctx: JobContext) {}

  has(item: number): boolean {
    return this.ctx.cache().has(this.ctx.paths.itemMisfire(item));
  }

  async mark(item: number): Promise<void> {
    await this.ctx.registry.persist(this.ctx.paths.itemMisfire(item), '');
  }

  async clear(item: number): Promise<void> {
    await this.ctx.registry.remove(this.ctx.paths.itemMisfire(item));
  }
}
