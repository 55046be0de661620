from apps.core.errors import ApplicationError, PermissionDenied


class ShopError(ApplicationError):
    code = "shop-error"


class ShopPermissionDenied(PermissionDenied):
    code = "shop-permission-denied"
