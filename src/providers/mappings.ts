/** The scope mappings of a provider and their evaluation: the contract the OAuth2 protocol reads (src/propertymappings/scope.ts). */
export {
  scopeMappingsOf,
  evaluateScopeMapping,
  nativeMappingOf,
  type ScopeMapping,
  type MappingCall,
  type MappingProvider,
} from '../propertymappings/scope.js';
