/** Bound bank cards: one-screen binding verified by the bank, encrypted at rest, shown as bank + last four. */
import type { AppModule } from '../../platform/module.js';
import { cardsRoutes } from './cards.routes.js';

export { cardsEncryptedColumns, cardsMigrations, CardsService } from './cards.service.js';

export const cardsModule: AppModule = { name: 'cards', routes: cardsRoutes };
