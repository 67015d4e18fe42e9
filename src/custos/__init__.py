"""Custos (客户资产卫士): keeps a company's customers the company's own."""

__version__ = "0.1.0"
