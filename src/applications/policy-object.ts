/**
 * The application as a policy request's `request.obj` (authentik passes the Application model): what expressions
 * read of it, `request.obj.slug` among them. One builder for every place that checks an application's policies
 * (the access check, launch, check_access, the OAuth2 provider's authorize and token endpoints).
 */
export const applicationPolicyObject = (app: { pbm_uuid: string; name: string; slug: string }) => ({
  app: 'authentik_core',
  model_name: 'application',
  pk: app.pbm_uuid,
  name: app.name,
  slug: app.slug,
});
