"""(being built)"""

routes: list = []
