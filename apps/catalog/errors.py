from apps.core.errors import ApplicationError


class CatalogError(ApplicationError):
    code = "catalog-error"
