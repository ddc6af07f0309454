// The whole schema: each module registers its types on the builder when imported.
import { builder } from './builder';
import './scalars';
import './errors';
import './access/tenant';
import './network/party';

export const schema = builder.toSchema({ sortSchema: true });
